using CaptionService.Model;
using CaptionService.Training.Cli;

TorchRuntime.PrepareProcess(); // before anything loads libtorch
return CliRunner.Run(CliRunner.CreateRoot(), args);
