using System.Diagnostics;

namespace Blip.Engine.Tests.Support;

/// <summary>This process's resident memory, for the tests that bound how memory grows.</summary>
public static class ProcessMemory
{
    /// <summary>Resident set size in bytes, read now.</summary>
    public static long ResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
