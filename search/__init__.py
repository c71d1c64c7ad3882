"""Search over the cases: Chinese analysis, a Whoosh index, one query module, an HTTP service."""
