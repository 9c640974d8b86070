from django.urls import path

from archive import views

app_name = "archive"

urlpatterns = [
    path("archive/", views.StudyListView.as_view(), name="study_list"),
    path("archive/import/", views.import_page, name="import"),
    path("archive/studies/<int:pk>/", views.StudyDetailView.as_view(), name="study_detail"),
    path("archive/studies/<int:pk>/delete/", views.study_delete, name="study_delete"),
    path("archive/series/<int:pk>/", views.SeriesDetailView.as_view(), name="series_detail"),
    path("archive/series/<int:pk>/thumbnail.png", views.series_thumbnail, name="series_thumbnail"),
    path("archive/instances/<int:pk>/", views.InstanceDetailView.as_view(),
         name="instance_detail"),
    path("archive/instances/<int:pk>/file.dcm", views.instance_download, name="instance_download"),
]
