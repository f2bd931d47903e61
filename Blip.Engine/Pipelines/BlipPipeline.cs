// What every front-door pipeline shares: opening (folder or Hub id → context + network), one lock, disposal.
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>Base of the pipelines: owns the network and its processor/tokenizer; serialises calls on one lock.</summary>
/// <typeparam name="TModel">The task network.</typeparam>
public abstract class BlipPipeline<TModel> : IDisposable where TModel : nn.Module
{
    private readonly Lock gate = new();
    private bool disposed;

    private protected BlipPipeline(ModelContext context, TModel model)
    {
        Context = context;
        Model = model;
    }

    /// <summary>The resolved model folder.</summary>
    public string ModelFolder => Context.Folder;

    private protected ModelContext Context { get; }

    private protected TModel Model { get; }

    /// <summary>Resolves the model, reads its processor and tokenizer, loads the network with <paramref name="load"/>.</summary>
    private protected static async Task<TPipeline> OpenAsync<TPipeline>(string modelIdOrPath, BlipLoadOptions? options,
        Func<string, Device?, ScalarType?, TModel> load, Func<ModelContext, TModel, TPipeline> create, CancellationToken cancellationToken)
    {
        var context = await ModelContext.OpenAsync(modelIdOrPath, options ?? BlipLoadOptions.Default, cancellationToken).ConfigureAwait(false);
        try
        {
            return create(context, load(context.Folder, context.Device, context.DType));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> under the lock, in inference mode and a dispose scope.</summary>
    private protected T Locked<T>(Func<T> work)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            return work();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the network and the tokenizer.</summary>
    protected virtual void Dispose(bool disposing)
    {
        lock (gate)
        {
            if (disposed || !disposing) return;
            disposed = true;
            Model.Dispose();
            Context.Dispose();
        }
    }
}
