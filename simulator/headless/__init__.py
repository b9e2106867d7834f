"""Running scenarios with no screen: the headless player and scripted instructor."""
