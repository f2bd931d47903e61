// BenchmarkDotNet's generated out-of-process project lacks the libtorch-cpu package reference (TorchSharp then
// refuses to start), so every benchmark runs in this process: the in-process emit toolchain.
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Blip.Benchmarks;

/// <summary>One launch, one warm-up, three measured iterations, in process (full-size workloads take seconds each).</summary>
public sealed class InProcessJob : ManualConfig
{
    /// <summary>Creates the job.</summary>
    public InProcessJob() =>
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3).WithToolchain(InProcessEmitToolchain.Instance));
}
