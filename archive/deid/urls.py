from django.urls import path

from archive.deid import preview, views

app_name = "deid"

urlpatterns = [
    path("deidentify/", views.deid_home, name="home"),
    path("deidentify/preview/", preview.preview_page, name="preview"),
    path("deidentify/jobs/<int:pk>/release/", views.held_release, name="held_release"),
    path("deidentify/projects/new/", views.project_create, name="project_create"),
    path("deidentify/projects/<int:pk>/", views.project_detail, name="project_detail"),
    path("deidentify/projects/<int:pk>/edit/", views.project_edit, name="project_edit"),
    path("deidentify/projects/<int:pk>/pseudonyms/upload/", views.pseudonyms_upload,
         name="pseudonyms_upload"),
    path("deidentify/projects/<int:pk>/pseudonyms.csv", views.pseudonyms_csv,
         name="pseudonyms_csv"),
]
