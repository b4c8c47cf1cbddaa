"""Lambda entry points: the workers fed by SQS, the interactions function URL, the scheduled sweeps."""
