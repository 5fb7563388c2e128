"""Reporters: functions of results (results.py) that write them for people or machines."""
