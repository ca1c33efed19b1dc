// Captions one image through @huggingface/inference (the package pinned in package.json), as a user of
// the Hugging Face Inference API would, pointed at this service. Run by tests/Deploy.Tests (ClientTests):
//   node image-to-text.mjs ENDPOINT raw|json IMAGE [TOKEN] [PARAMETERS-JSON]
// raw:  client.imageToText({ data }) - the image as the body, with its type.
// json: client.request({ inputs: base64, parameters }, { task: "image-to-text" }) - the task's JSON form.
// Prints one JSON line: {"ok": true, "generated_text": ...} or {"ok": false, "name", "message", "status"}.
import { readFile } from "node:fs/promises";
import { InferenceClient } from "@huggingface/inference";

const [endpoint, form, imagePath, token = "", parameters = "{}"] = process.argv.slice(2);
const client = new InferenceClient(token).endpoint(endpoint);
const bytes = await readFile(imagePath);
try {
  const output = form === "raw"
    ? await client.imageToText({ data: new Blob([bytes], { type: "image/png" }) })
    : await client.request({ inputs: bytes.toString("base64"), parameters: JSON.parse(parameters) }, { task: "image-to-text" });
  console.log(JSON.stringify({ ok: true, generated_text: output.generated_text }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, name: error.name, message: error.message, status: error.httpResponse?.status ?? null }));
}
