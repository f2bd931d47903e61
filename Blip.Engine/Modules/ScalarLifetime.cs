// Keeps TorchSharp's temporary Scalars alive through the native calls that read them, by turning off the runtime's
// background (concurrent) garbage collection when this assembly loads.
// Why: TorchSharp 0.107.0 converts numbers to Scalar objects implicitly (x - 1, masked_fill(m, 0), and inside
// Tensor + Tensor, which calls add(other, 1)), and frees a Scalar's native copy in its finalizer. Once the wrapper has
// passed its handle to the native call, nothing in managed code refers to it, so a collection that completes while
// the call runs may queue it, and the finalizer thread frees the native Scalar while libtorch still reads it. A
// background collection completes while the calling thread is in native code; measured here (the tiny captioning
// checkpoint, one process, one image captioned again and again): 4 of 4 runs failed after 71–627 captions with
// libtorch's "Expected false to be true" from Scalar::toFloat/toLong or "Unknown scalar type", from
// BlipVisionEmbeddings' add and TextGenerator's masked_fill; with DOTNET_gcConcurrent=0, 2 of 2 runs of 1,500 passed,
// and with this module 3 of 3.
// GCLatencyMode.Batch is that setting at run time. It leaves foreground collections, which only start where a managed
// thread allocates: in a process whose other threads allocate while a thread runs the engine, the race is narrower but
// not gone (a fix belongs in TorchSharp: dotnet/TorchSharp pull requests 1434 and 1496 dispose these Scalars).
// BLIP_BACKGROUND_GC=1 keeps the runtime's setting. Not a library's usual business, like NativeHeap's mallopt.

using System.Runtime;
using System.Runtime.CompilerServices;

namespace Blip.Engine.Modules;

/// <summary>Turns background garbage collection off when Blip.Engine loads (see the header), unless
/// <c>BLIP_BACKGROUND_GC=1</c>.</summary>
internal static class ScalarLifetime
{
#pragma warning disable CA2255 // a module initializer in a library: the setting must precede the first tensor op
    [ModuleInitializer]
    internal static void Apply()
#pragma warning restore CA2255
    {
        if (Environment.GetEnvironmentVariable("BLIP_BACKGROUND_GC") == "1") return;
        if (GCSettings.LatencyMode is GCLatencyMode.Interactive or GCLatencyMode.SustainedLowLatency)
            GCSettings.LatencyMode = GCLatencyMode.Batch;
    }
}
