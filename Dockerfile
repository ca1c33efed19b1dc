# syntax=docker/dockerfile:1
# CaptionService in one image: the API (port 8080) and the `captioner` tool (training, import, evaluation).
#
#   docker build -t captionservice:cuda .                                  # GPU: TorchSharp-cuda-linux (the default)
#   docker build -t captionservice:cpu --build-arg TORCH_BACKEND=cpu .     # CPU only
#
# The CUDA build carries the CUDA runtime libraries in TorchSharp-cuda-linux's packages: the host
# needs only the NVIDIA driver and the NVIDIA Container Toolkit.
#
# tests/Deploy.Tests checks that every COPY source here exists and that the publish commands name
# real projects, and runs this build stage's restore and publish commands outside Docker (with
# TORCH_BACKEND=cpu) in a folder holding only what the COPY lines copy, then starts the result.
# Keep the build stage's RUN lines free of absolute paths (use $APP_DIR) so that it can.

ARG TORCH_BACKEND=cuda

FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
ARG TORCH_BACKEND
ARG APP_DIR=/app
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORKDIR /src

# A C compiler builds the one-function library that puts MKL's fp32 GEMM on its fast path on
# non-Intel CPUs (build/MklIntelPath.targets); without one the image still builds and runs without it.
RUN command -v cc >/dev/null || (apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*)

# Project files first, so that the (large) restore is cached while only sources change.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY src/Model/CaptionService.Model.csproj src/Model/
COPY src/Hub/CaptionService.Hub.csproj src/Hub/
COPY src/Api/CaptionService.Api.csproj src/Api/
COPY src/Training/CaptionService.Training.csproj src/Training/
RUN dotnet restore src/Api/CaptionService.Api.csproj -r linux-x64 -p:TorchBackend=$TORCH_BACKEND \
 && dotnet restore src/Training/CaptionService.Training.csproj -r linux-x64 -p:TorchBackend=$TORCH_BACKEND

COPY checkpoints/demo-shapes/ checkpoints/demo-shapes/
COPY src/ src/
# Both apps into one folder: they share the model library and libtorch (one copy of each).
RUN dotnet publish src/Api/CaptionService.Api.csproj -c Release --no-restore -r linux-x64 --self-contained false -p:TorchBackend=$TORCH_BACKEND -o "$APP_DIR"
RUN dotnet publish src/Training/CaptionService.Training.csproj -c Release --no-restore -r linux-x64 --self-contained false -p:TorchBackend=$TORCH_BACKEND -o "$APP_DIR"


FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS runtime
ARG TORCH_BACKEND
LABEL org.opencontainers.image.title="CaptionService" \
      org.opencontainers.image.description="ViT-GPT2 image captioning service and captioner tool (TorchSharp, ${TORCH_BACKEND})"
# DOTNET_SHUTDOWNTIMEOUTSECONDS: on SIGTERM the host drains in-flight captions for up to 60 s.
# HF_HOME: models named hf:OWNER/NAME (Captioner__Checkpoint, captioner --checkpoint) are downloaded into
# huggingface_hub's cache on the /models volume, so they are fetched once and survive the container.
# NVIDIA_*: what the NVIDIA Container Toolkit gives the container (ignored without it).
# MALLOC_ARENA_MAX: two glibc malloc arenas from the first allocation on; with glibc's default (8 per
# core) a stream of large uploads left more and more arenas holding freed memory
# (TorchRuntime.LimitMallocArenas, docs/benchmarks.md).
ENV ASPNETCORE_HTTP_PORTS=8080 \
    DOTNET_SHUTDOWNTIMEOUTSECONDS=60 \
    MALLOC_ARENA_MAX=2 \
    HF_HOME=/models/huggingface \
    Captioner__Device=auto \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=build /app ./
COPY --chmod=0755 deploy/docker/healthcheck deploy/docker/captioner /usr/local/bin/
# Checkpoints live on a volume at /models (Captioner__Checkpoint=/models/NAME, or hf:OWNER/NAME into
# /models/huggingface); with none set the service answers with the built-in demo checkpoint in
# /app/checkpoints/demo-shapes.
RUN mkdir -p /models && chown "$APP_UID:$APP_UID" /models
VOLUME /models
# The non-root user of the .NET images (uid 1654).
USER $APP_UID
EXPOSE 8080
# The start period covers a first download of an hf: model (about 1 GB); a passing check counts at once.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 CMD ["healthcheck"]
CMD ["dotnet", "/app/CaptionService.Api.dll"]
