from django.urls import path

from archive.dicomweb import resource_views, store_views, views

app_name = "dicomweb"

urlpatterns = [
    # STOW-RS: POST stores; GET and HEAD go on to the QIDO-RS / WADO-RS views named below.
    path("dicomweb/studies", store_views.studies, name="stow_studies"),
    path("dicomweb/studies/<str:study>", store_views.study, name="stow_study"),
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
    path("dicomweb/studies/<str:study>/metadata", resource_views.instance_metadata,
         name="study_metadata"),
    path("dicomweb/studies/<str:study>/series/<str:series>/metadata",
         resource_views.instance_metadata, name="series_metadata"),
    path("dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>/metadata",
         resource_views.instance_metadata, name="instance_metadata"),
    path("dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>/frames/"
         "<str:frame_list>", resource_views.instance_frames, name="instance_frames"),
    path("dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>/bulkdata/"
         "<path:element>", resource_views.bulkdata, name="bulkdata"),
]
