"""Cases: persons (pseudonymous), items and their matches, timeline, deadlines, notices. See docs/cases.md."""
