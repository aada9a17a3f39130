"""ReaSeq workbench core library."""
