from django.urls import path

from archive import bulk, picker_views, views
from archive.conversions import views as conversions
from archive.inspect import tools_views as tools
from archive.inspect import views as inspect
from archive.objects import views as objects

app_name = "archive"

urlpatterns = [
    path("archive/", views.StudyListView.as_view(), name="study_list"),
    path("archive/import/", views.import_page, name="import"),
    path("archive/send/", bulk.send_selection, name="send_selection"),
    path("archive/delete/", bulk.delete_selection, name="delete_selection"),
    path("archive/download.zip", bulk.download_selection, name="download_selection"),
    path("archive/studies/<int:pk>/", views.StudyDetailView.as_view(), name="study_detail"),
    path("archive/studies/<int:pk>/delete/", views.study_delete, name="study_delete"),
    path("archive/series/<int:pk>/", views.SeriesDetailView.as_view(), name="series_detail"),
    path("archive/series/<int:pk>/thumbnail.png", views.series_thumbnail, name="series_thumbnail"),
    path("archive/instances/<int:pk>/", views.InstanceDetailView.as_view(),
         name="instance_detail"),
    path("archive/instances/<int:pk>/file.dcm", views.instance_download, name="instance_download"),
    path("archive/instances/<int:pk>/extracted", objects.instance_extracted,
         name="instance_extracted"),
    path("archive/instances/<int:pk>/thumbnail.png", views.instance_thumbnail,
         name="instance_thumbnail"),
    path("conversions/", conversions.conversions, name="conversions"),
    path("conversions/live/", conversions.conversions_live, name="conversions_live"),
    path("inspect/", inspect.inspect_home, name="inspect_home"),
    path("archive/pick/<str:level>/", picker_views.pick_search, name="pick"),
    path("tools/", tools.tools_home, name="tools"),
    path("tools/diff/", tools.diff_page, name="diff"),
    path("tools/scanner/", tools.scanner_page, name="scanner"),
    path("tools/format/", tools.pattern_page, name="pattern"),
    path("inspect/uploads/<str:token>/delete/", inspect.inspect_delete, name="inspect_delete"),
    path("inspect/<str:kind>/<str:ident>/", inspect.inspect_dump, name="inspect_dump"),
    path("inspect/<str:kind>/<str:ident>/dump.txt", inspect.inspect_dump_text,
         name="inspect_text"),
    path("inspect/<str:kind>/<str:ident>/json/", inspect.inspect_json, name="inspect_json"),
    path("inspect/<str:kind>/<str:ident>/xml/", inspect.inspect_xml, name="inspect_xml"),
    path("inspect/<str:kind>/<str:ident>/info/", inspect.inspect_info, name="inspect_info"),
    path("inspect/<str:kind>/<str:ident>/validate/", inspect.inspect_validate,
         name="inspect_validate"),
    path("inspect/<str:kind>/<str:ident>/render/", inspect.inspect_render_page,
         name="inspect_render_page"),
    path("inspect/<str:kind>/<str:ident>/frame", inspect.inspect_render, name="inspect_render"),
    path("inspect/<str:kind>/<str:ident>/value", inspect.inspect_value, name="inspect_value"),
    path("inspect/<str:kind>/<str:ident>/pixel", inspect.inspect_pixel, name="inspect_pixel"),
    path("inspect/<str:kind>/<str:ident>/raw/", inspect.inspect_raw, name="inspect_raw"),
]
