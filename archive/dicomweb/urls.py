from django.urls import path

from archive.dicomweb import views

app_name = "dicomweb"

urlpatterns = [
    path("dicomweb/studies", views.studies, name="studies"),
    path("dicomweb/series", views.series, name="series"),
    path("dicomweb/instances", views.instances, name="instances"),
    path("dicomweb/studies/<str:study>/series", views.study_series, name="study_series"),
    path("dicomweb/studies/<str:study>/instances", views.study_instances,
         name="study_instances"),
    path("dicomweb/studies/<str:study>/series/<str:series>/instances", views.series_instances,
         name="series_instances"),
    path("dicomweb/studies/<str:study>", views.retrieve, name="retrieve_study"),
    path("dicomweb/studies/<str:study>/series/<str:series>", views.retrieve,
         name="retrieve_series"),
    path("dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>",
         views.retrieve, name="retrieve_instance"),
]
