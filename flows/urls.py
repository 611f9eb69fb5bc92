from django.urls import path

from . import views

app_name = "flows"
urlpatterns = [
    path("", views.flow_list, name="list"),
    path("count/", views.count, name="count"),
    path("import/", views.import_flow, name="import"),
    path("<int:pk>/export.json", views.export, name="export"),
    path("<int:pk>/", views.flow_editor, name="editor"),
    path("<int:pk>/nodes/add/", views.node_add, name="node-add"),
    path("<int:pk>/nodes/<slug:node_id>/save/", views.node_save, name="node-save"),
    path("<int:pk>/nodes/<slug:node_id>/delete/", views.node_delete, name="node-delete"),
    path("<int:pk>/nodes/<slug:node_id>/move/", views.node_move, name="node-move"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/simulator/", views.simulator, name="simulator"),
    path("<int:pk>/versions/", views.versions, name="versions"),
    path("<int:pk>/versions/<int:number>/revert/", views.revert, name="revert"),
    path("<int:pk>/results/", views.results, name="results"),
    path("<int:pk>/nodes/<slug:node_id>/attribute/", views.attribute_add, name="attribute-add"),
]
