"""Agent definitions: reads, writes, versions, duplication, import and export."""
