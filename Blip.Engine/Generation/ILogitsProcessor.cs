// One of transformers' LogitsProcessors: rewrites next-token scores given the ids so far.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Rewrites next-token scores [B,V] given the ids so far [B,T], as a transformers <c>LogitsProcessor</c>.</summary>
internal interface ILogitsProcessor
{
    /// <summary>New scores [B,V]; never modifies <paramref name="scores"/> in place.</summary>
    Tensor Process(Tensor ids, Tensor scores);
}
