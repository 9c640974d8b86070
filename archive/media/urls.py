from django.urls import path

from archive.media import views

app_name = "media"

urlpatterns = [
    path("media/", views.media_home, name="home"),
    path("media/<int:pk>/", views.medium_detail, name="medium_detail"),
    path("media/dicomdir/", views.dicomdir_page, name="dicomdir"),
    path("media/dicomdir/delete/", views.delete_selected, name="delete_selected"),
    path("media/import/", views.import_medium, name="import"),
    path("media/burn/", views.burn_selection, name="burn_selection"),
]
