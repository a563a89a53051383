# The personalizer worker image (docker-compose.yml builds it as personalizer:0.1.0).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY models ./models
COPY streams ./streams
RUN pip install --no-cache-dir . && useradd --system --uid 10001 personalizer \
    && mkdir -p /var/lib/personalizer/state && chown personalizer /var/lib/personalizer/state
USER personalizer
EXPOSE 6066
CMD ["personalizer", "worker"]
