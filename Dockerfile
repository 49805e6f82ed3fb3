FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml ./
COPY config ./config
COPY common ./common
COPY web ./web
COPY worker ./worker
COPY wsgi.py gunicorn.conf.py ./
RUN pip install .
RUN useradd --create-home aipasta && mkdir -p /app/var && chown aipasta /app/var
USER aipasta
EXPOSE 5000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "-k", "gevent", "--worker-connections", "2000", "--bind", "0.0.0.0:5000", "wsgi:app"]
