namespace CaptionService.Model;

/// <summary>Weight and activation precision for inference.</summary>
public enum Precision
{
    Fp32,
    Bf16,
    Fp16,
}
