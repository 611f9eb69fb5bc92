from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect


def home(request):
    return redirect("admin:index")


def health(request):
    """Liveness and database check for load balancers and `make run`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if request.GET.get("format") == "text":
        return HttpResponse("ok")
    return JsonResponse({"status": "ok", "database": connection.vendor})
