from django.contrib import admin

from netjobs.models import ApplicationEntity, Association, Job, JobLogEntry


@admin.register(ApplicationEntity)
class ApplicationEntityAdmin(admin.ModelAdmin):
    list_display = ["ae_title", "kind", "host", "port", "description"]
    list_filter = ["kind", "tls_enabled"]
    search_fields = ["ae_title", "host", "description"]


class JobLogEntryInline(admin.TabularInline):
    model = JobLogEntry
    extra = 0
    readonly_fields = ["created_at", "level", "message"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "status", "summary", "owner", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["summary"]
    inlines = [JobLogEntryInline]


@admin.register(Association)
class AssociationAdmin(admin.ModelAdmin):
    list_display = ["pk", "role", "outcome", "calling_ae_title", "called_ae_title", "started_at"]
    list_filter = ["role", "outcome"]
