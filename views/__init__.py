"""The engine that turns declarations into screens, and the few custom pages."""
