"""Supervisor: the measures of how interactions are answered (measures.py), shared by the
interactions export, the live view and the reports."""
