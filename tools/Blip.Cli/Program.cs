Console.WriteLine(Blip.Engine.Checkpoints.TorchRuntime.Probe());
