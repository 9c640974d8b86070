from django.urls import path

from netjobs import association_views, endpoint_views, views
from netjobs.jobs import views as job_views
from netjobs.listeners import commitment_views
from netjobs.listeners import notification_views as notifications
from netjobs.listeners import views as listeners

app_name = "netjobs"

urlpatterns = [
    path("aes/", views.AEListView.as_view(), name="ae_list"),
    path("aes/new/", views.AECreateView.as_view(), name="ae_create"),
    path("aes/<int:pk>/", views.AEDetailView.as_view(), name="ae_detail"),
    path("aes/<int:pk>/edit/", views.AEUpdateView.as_view(), name="ae_update"),
    path("aes/<int:pk>/delete/", views.AEDeleteView.as_view(), name="ae_delete"),
    path("aes/<int:pk>/echo/", views.ae_echo, name="ae_echo"),
    path("endpoints/", endpoint_views.EndpointListView.as_view(), name="endpoint_list"),
    path("endpoints/new/", endpoint_views.EndpointCreateView.as_view(), name="endpoint_create"),
    path("endpoints/<int:pk>/", endpoint_views.EndpointDetailView.as_view(),
         name="endpoint_detail"),
    path("endpoints/<int:pk>/edit/", endpoint_views.EndpointUpdateView.as_view(),
         name="endpoint_update"),
    path("endpoints/<int:pk>/delete/", endpoint_views.EndpointDeleteView.as_view(),
         name="endpoint_delete"),
    path("associations/", association_views.association_list, name="association_list"),
    path("associations/<int:pk>/record/", association_views.association_record,
         name="association_record"),
    path("listeners/", listeners.ListenerListView.as_view(), name="listener_list"),
    path("listeners/new/", listeners.ListenerCreateView.as_view(), name="listener_create"),
    path("listeners/<int:pk>/", listeners.ListenerDetailView.as_view(),
         name="listener_detail"),
    path("listeners/<int:pk>/edit/", listeners.ListenerUpdateView.as_view(),
         name="listener_update"),
    path("listeners/<int:pk>/delete/", listeners.ListenerDeleteView.as_view(),
         name="listener_delete"),
    path("listeners/<int:pk>/status/", listeners.listener_status, name="listener_status"),
    path("listeners/<int:pk>/<str:action>/", listeners.listener_action,
         name="listener_action"),
    path("notifications/mpps/", notifications.PerformedProcedureStepListView.as_view(),
         name="mpps_list"),
    path("notifications/mpps/<int:pk>/", notifications.PerformedProcedureStepDetailView.as_view(),
         name="mpps_detail"),
    path("notifications/ian/", notifications.AvailabilityNotificationListView.as_view(),
         name="ian_list"),
    path("notifications/ian/<int:pk>/",
         notifications.AvailabilityNotificationDetailView.as_view(), name="ian_detail"),
    path("commitments/", commitment_views.CommitmentListView.as_view(),
         name="commitment_list"),
    path("commitments/<int:pk>/", commitment_views.CommitmentDetailView.as_view(),
         name="commitment_detail"),
    path("jobs/", views.JobListView.as_view(), name="job_list"),
    path("jobs/new/", job_views.job_new_index, name="job_new_index"),
    path("jobs/new/<str:kind_name>/", job_views.job_new, name="job_new"),
    path("jobs/<int:pk>/download/<str:name>/", job_views.job_download, name="job_download"),
    path("jobs/<int:pk>/retry-failed/", job_views.job_retry_failed, name="job_retry_failed"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job_detail"),
    path("jobs/<int:pk>/live/", views.job_live, name="job_live"),
    path("jobs/<int:pk>/badge/", views.job_badge, name="job_badge"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
]
