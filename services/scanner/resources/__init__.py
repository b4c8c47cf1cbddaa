"""Resource kinds the scanner knows; importing this package registers every one of them."""

from services.scanner.resources import ebs_volume, elastic_ip
from services.scanner.resources.base import Detector, Observation, Pricing, detectors

__all__ = ["Detector", "Observation", "Pricing", "detectors", "ebs_volume", "elastic_ip"]
