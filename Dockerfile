# The personalizer worker image (docker-compose.yml builds it as personalizer:0.1.0).
# Stage 1 builds the wheel with the pure core's hot modules compiled by mypyc (setup.py;
# gcc is in python:3.11, not in -slim); stage 2 installs it without a compiler.
FROM python:3.11 AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY schemas ./schemas
COPY models ./models
COPY streams ./streams
RUN PERSONALIZER_COMPILE=1 pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 personalizer \
    && mkdir -p /var/lib/personalizer/state && chown personalizer /var/lib/personalizer/state
USER personalizer
WORKDIR /app
EXPOSE 6066
CMD ["personalizer", "worker"]
