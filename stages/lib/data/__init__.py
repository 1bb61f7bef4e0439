"""Raw task data from its sources to the prepared layout on disk."""
