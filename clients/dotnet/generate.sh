#!/usr/bin/env bash
# Regenerates CaptionServiceClient.g.cs from the OpenAPI document of a running service on the built-in
# demo checkpoint (dotnet run --project src/Api), with the NSwag version pinned in .config/dotnet-tools.json:
#   bash clients/dotnet/generate.sh [http://localhost:5000]
# tests/Deploy.Tests (GeneratedClientTests) runs the same command on the test server's document and
# fails when the committed file differs.
set -euo pipefail
cd "$(dirname "$0")/../.."
url="${1:-http://localhost:5000}"
document="$(mktemp --suffix=.json)"
curl -sSf "$url/swagger/v1/swagger.json" -o "$document"
dotnet tool restore > /dev/null
dotnet tool run nswag openapi2csclient "/input:$document" /output:clients/dotnet/CaptionServiceClient.g.cs \
  /namespace:CaptionService.Client /className:CaptionServiceClient /jsonLibrary:SystemTextJson /useBaseUrl:false \
  /generateClientInterfaces:true /generateNullableReferenceTypes:true /generateOptionalPropertiesAsNullable:true
rm -f "$document"
