"""EC2 instances: their addresses over time, network activity and instance-profile sessions."""
