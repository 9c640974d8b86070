# Image for every console service of compose.yaml (web, worker, listener, beat, migrate).
FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# ffprobe reads a video's profile and level when a DICOM video object is created from it;
# xorriso writes the ISO 9660 images of media (mkmedia).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ffmpeg xorriso \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 console \
 && mkdir -p /data/storage /data/var /data/tls /data/beat \
 && chown -R console:console /data
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY console console
COPY archive archive
COPY netjobs netjobs
RUN pip install -c constraints.txt -e .
COPY manage.py ./
COPY templates templates
COPY static static
# Static files are collected into the image; the throwaway key lives only in /tmp.
RUN CONSOLE_VAR_DIR=/tmp/build-var STATIC_ROOT=/app/staticfiles python manage.py collectstatic --no-input \
 && rm -rf /tmp/build-var
ENV STATIC_ROOT=/app/staticfiles
USER console
EXPOSE 8000
CMD ["gunicorn", "console.wsgi:application", "--bind=0.0.0.0:8000"]
