using CaptionService.Training.Cli;

return CliRunner.Run(CliRunner.CreateRoot(), args);
