"""The live console: the Socket.IO namespace and the relay of the console feed."""
