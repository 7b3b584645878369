"""bouclier: protect photos on-device, match copies and manipulated derivatives, localise the edit."""

__version__ = "0.1.0"
