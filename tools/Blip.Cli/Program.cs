// The `blip` command: thin — parses, calls the library's pipelines, prints.
// Exit codes: 0 success, 2 usage error, 1 failure (one line; the stack trace only with --verbose).
using Blip.Cli;

return CliApp.Run(args, StandardOutput.Open(), Console.Error);
