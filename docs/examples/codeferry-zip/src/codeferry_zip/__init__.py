"""codeferry plugin: code shipped as a zip archive (an example built on the public API only)."""
