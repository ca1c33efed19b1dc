namespace CaptionService.Training.Tests.Evaluation;

/// <summary>
/// Five COCO-like images with raw captions, their tokenized forms, and the scores that an independent Python
/// transcription of coco-caption's bleu_scorer.py / rouge.py / cider_scorer.py gives on the tokenized text.
/// </summary>
internal static class MiniCorpus
{
    public static readonly Dictionary<string, string> Predictions = new()
    {
        ["42"] = "A man riding a wave on top of a surfboard.",
        ["73"] = "A cat sitting on a laptop computer.",
        ["139"] = "Two dogs playing with a frisbee in the grass.",
        ["285"] = "A plate of food with broccoli.",
        ["632"] = "A red double decker bus.",
    };

    public static readonly Dictionary<string, IReadOnlyList<string>> References = new()
    {
        ["42"] = ["A surfer riding a large wave in the ocean.", "A man on a surfboard riding a wave.", "Someone is surfing on a big wave!"],
        ["73"] = ["A cat laying on top of a laptop computer.", "A black and white cat sits on a keyboard.", "The cat's sleeping on the laptop."],
        ["139"] = ["Two dogs are playing with a frisbee.", "A pair of dogs run after a frisbee on a lawn."],
        ["285"] = ["A plate topped with meat and broccoli.", "A white plate with food (broccoli, rice) on it.", "Dinner: chicken, rice and broccoli."],
        ["632"] = ["A red double-decker bus drives down the street.", "A big red bus isn't parked."],
    };

    public static readonly Dictionary<string, string> TokenizedPredictions = new()
    {
        ["42"] = "a man riding a wave on top of a surfboard",
        ["73"] = "a cat sitting on a laptop computer",
        ["139"] = "two dogs playing with a frisbee in the grass",
        ["285"] = "a plate of food with broccoli",
        ["632"] = "a red double decker bus",
    };

    public static readonly Dictionary<string, IReadOnlyList<string>> TokenizedReferences = new()
    {
        ["42"] = ["a surfer riding a large wave in the ocean", "a man on a surfboard riding a wave", "someone is surfing on a big wave"],
        ["73"] = ["a cat laying on top of a laptop computer", "a black and white cat sits on a keyboard", "the cat 's sleeping on the laptop"],
        ["139"] = ["two dogs are playing with a frisbee", "a pair of dogs run after a frisbee on a lawn"],
        ["285"] = ["a plate topped with meat and broccoli", "a white plate with food -lrb- broccoli rice -rrb- on it", "dinner chicken rice and broccoli"],
        ["632"] = ["a red double-decker bus drives down the street", "a big red bus is n't parked"],
    };

    // Python transcription of coco-caption on the tokenized text (BLEU with option "closest").
    public const double Bleu1 = 0.7567567567363039;
    public const double Bleu2 = 0.5753964555519844;
    public const double Bleu3 = 0.36605262922887266;
    public const double Bleu4 = 0.21729612301372808;
    public const double RougeL = 0.6320106688412367;
    public const double CiderD = 1.6986826969080666;

    public static readonly Dictionary<string, (double Rouge, double Cider)> PerImage = new()
    {
        ["42"] = (0.5669144981412639, 1.7770640113896),
        ["73"] = (0.7334669338677354, 1.614866521081434),
        ["139"] = (0.7672955974842767, 2.707045181314891),
        ["285"] = (0.6069651741293532, 1.190903360374445),
        ["632"] = (0.48541114058355433, 1.203534410379965),
    };
}
