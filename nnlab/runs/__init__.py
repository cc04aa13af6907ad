"""Run folders: their layout and every write to them (``folder``), checkpoint files (``checkpoint``), and
the table of ``nnlab runs`` (``listing``)."""
