"""Reference and demo data drawn from the seed text, and their loaders."""
