namespace Blip.Engine.Tests.Hub;

/// <summary>One request FakeHub received.</summary>
public sealed record RecordedRequest(string Method, string Path, string? Authorization, string? Range);
