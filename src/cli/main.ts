// Placeholder entry; the CLI replaces this.
process.exitCode = 0;
