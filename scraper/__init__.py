"""Raw reports in, normalized `Case` records out. One module per stage; see pipeline.py."""
