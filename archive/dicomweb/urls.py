from django.urls import path

from archive.dicomweb import render_views, resource_views, store_views, views

app_name = "dicomweb"

_SERIES = "dicomweb/studies/<str:study>/series/<str:series>"
_INSTANCE = f"{_SERIES}/instances/<str:instance>"

urlpatterns = [
    # QIDO-RS; POST /dicomweb/studies[/{study}] is STOW-RS, GET there is QIDO-RS / WADO-RS.
    path("dicomweb/studies", store_views.studies, name="studies"),
    path("dicomweb/series", views.series, name="series"),
    path("dicomweb/instances", views.instances, name="instances"),
    path("dicomweb/studies/<str:study>/series", views.study_series, name="study_series"),
    path("dicomweb/studies/<str:study>/instances", views.study_instances,
         name="study_instances"),
    path(f"{_SERIES}/instances", views.series_instances, name="series_instances"),
    # WADO-RS
    path("dicomweb/studies/<str:study>", store_views.study, name="retrieve_study"),
    path(_SERIES, views.retrieve, name="retrieve_series"),
    path(_INSTANCE, views.retrieve, name="retrieve_instance"),
    path("dicomweb/studies/<str:study>/metadata", resource_views.instance_metadata,
         name="study_metadata"),
    path(f"{_SERIES}/metadata", resource_views.instance_metadata, name="series_metadata"),
    path(f"{_INSTANCE}/metadata", resource_views.instance_metadata, name="instance_metadata"),
    path(f"{_INSTANCE}/frames/<str:frame_list>", resource_views.instance_frames,
         name="instance_frames"),
    path(f"{_INSTANCE}/bulkdata/<path:element>", resource_views.bulkdata, name="bulkdata"),
    # rendered and thumbnail resources of studies, series, instances and frames
    *render_views.urlpatterns,
]
