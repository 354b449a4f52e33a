"""The collector distribution and its configs: built, validated and run against real backends."""
