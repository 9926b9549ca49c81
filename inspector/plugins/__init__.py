"""The built-in plugins, registered like third-party ones: loaders with their readers, and analyzers."""
