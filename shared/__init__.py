"""CloudThrift's common code: settings, events, the queue runtime, the ledger, the AWS client factory."""
