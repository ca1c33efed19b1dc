using System.Text.Json;
using System.Text.Json.Nodes;
using CaptionService.Api.Contracts;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>Examples for the documented answers: a caption, a batch, and one problem per error status
/// (<see cref="ContractExamples"/>), written as the endpoints write them (snake_case).</summary>
public sealed class ResponseExamplesFilter(IOptions<JsonOptions> json) : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.Responses is not { } responses) return;
        object? ok = operation.OperationId switch
        {
            "CreateCaption" => ContractExamples.Caption,
            "CreateCaptions" => ContractExamples.Batch,
            "ImageToText" or "ImageToTextForModel" => ContractExamples.ImageToText,
            _ => null,
        };
        var problems = operation.OperationId switch
        {
            "ImageToText" or "ImageToTextForModel" => ContractExamples.InferenceProblems,
            "GetModel" => ContractExamples.ModelProblems,
            _ => ContractExamples.Problems,
        };
        foreach (var (code, response) in responses)
        {
            if (response.Content is not { } content) continue;
            object? example = code == "200" ? ok
                : int.TryParse(code, out var status) && problems.TryGetValue(status, out var problem) ? problem.Problem
                : null;
            if (example is null) continue;
            foreach (var media in content.Values)
                media.Example = JsonSerializer.SerializeToNode(example, example.GetType(), json.Value.SerializerOptions);
        }
    }
}
