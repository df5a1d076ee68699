"""What runs inside Kiln's work processes: training hosts and endpoint instances."""
