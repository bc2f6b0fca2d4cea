"""Beam pipelines and data tools that turn videos and questions into training records."""
